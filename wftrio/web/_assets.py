"""The stylesheet and the script of the console's pages (served as ``/static/...``).

Plain CSS and vanilla JavaScript, no build step and nothing from another
host.  The script:

* keeps the bearer token (``#token``, when the console needs one) in the
  tab's ``sessionStorage`` and sends it with every POST;
* on the case list, polls ``/api/cases`` every second with the filters of
  ``#filters`` and redraws the table (``tr[data-case][data-state]``);
* on a case page, reloads ``/cases/{id}/live`` every second while the case
  is unfinished, and posts the signal / cancel / cancel-region forms to the
  API, showing the answer (or its ``error``) in ``#msg``;
* makes the timeline and graph zoomable (wheel, drag, buttons; a zoom is
  kept across the live reloads) and shows a hovered bar's, mark's or
  node's details under the timeline.
"""

from __future__ import annotations

__all__ = ["CSS", "JS"]

CSS = """
body{font:14px system-ui,sans-serif;margin:0;color:#222;background:#fff}
header{background:#1f2937;color:#fff;padding:.6em 1.2em;display:flex;gap:1em;align-items:center}
header a{color:#fff;text-decoration:none;font-weight:600}
header .token{margin-left:auto;font-size:.9em}
main{padding:1em 1.5em}
h1{font-size:1.3em}h2{font-size:1.05em;margin-top:1.4em}
table{border-collapse:collapse}
th,td{padding:3px 10px;text-align:left;border-bottom:1px solid #e5e7eb;vertical-align:top}
#cases td:first-child{font-family:ui-monospace,monospace;font-size:.9em}
.state{font-weight:600}.state.done{color:#15803d}.state.failed{color:#b91c1c}
.state.cancelled{color:#a16207}.state.waiting_signal,.state.waiting_effect{color:#1d4ed8}
.state.running{color:#7c3aed}
form{margin:.5em 0}label{margin-right:.6em}
.facts th{width:9em;color:#555;font-weight:500}
pre.ctx{background:#f6f8fa;padding:.6em;max-height:14em;overflow:auto}
.pane{border:1px solid #e5e7eb;overflow:auto;max-width:100%}
.pane svg{display:block;cursor:grab;max-width:none}
.tools button{font-size:.8em;margin-right:.3em}
#details{font:12px ui-monospace,monospace;color:#444;min-height:1.4em;margin:.3em 0}
#msg{position:fixed;bottom:1em;right:1em;max-width:40em;padding:.6em 1em;border-radius:4px;
  background:#111827;color:#fff;display:none}
#msg.error{background:#b91c1c}#msg.shown{display:block}
.forms{background:#f9fafb;border:1px solid #e5e7eb;padding:.4em 1em;margin:1em 0}
.source{color:#555}
.two{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:0 2em;align-items:start}
@media (max-width:900px){.two{grid-template-columns:minmax(0,1fr)}}
.two pre.ctx{margin-top:0}
.two>div{overflow-x:auto;min-width:0}
.receipts td.key{max-width:9em;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
"""

JS = r"""
(function(){
  'use strict';
  var body=document.body, tokenBox=document.getElementById('token');
  if(tokenBox){tokenBox.value=sessionStorage.getItem('wftrio-token')||'';
    tokenBox.addEventListener('input',function(){
      sessionStorage.setItem('wftrio-token',tokenBox.value);});}
  var msgTimer=null;
  function say(text,bad){var m=document.getElementById('msg');m.textContent=text;
    m.className='shown'+(bad?' error':'');clearTimeout(msgTimer);
    msgTimer=setTimeout(function(){m.className='';},6000);}
  function post(url,data){
    var h={'Content-Type':'application/json'};
    var tok=tokenBox?tokenBox.value:'';if(tok)h['Authorization']='Bearer '+tok;
    return fetch(url,{method:'POST',headers:h,body:JSON.stringify(data)}).then(function(r){
      return r.json().then(function(j){return {ok:r.ok,status:r.status,json:j};});});}
  function esc(s){return String(s).replace(/[&<>"']/g,function(c){
    return {'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c];});}
  function age(t){if(t==null)return '';var s=Math.max(0,Date.now()/1000-t);
    var u=[['d',86400],['h',3600],['m',60]];for(var i=0;i<u.length;i++){
      if(s>=u[i][1])return Math.round(s/u[i][1])+u[i][0];}return Math.round(s)+'s';}
  // a pane's zoom (its viewBox, once the user changed it) outlives the live refresh
  var views={},drag=null;
  window.addEventListener('mouseup',function(){drag=null;});
  function zoomable(svg){
    var vb=svg.viewBox.baseVal;if(!vb)return;var home=[vb.x,vb.y,vb.width,vb.height];
    var id=svg.getAttribute('data-pane');
    function set(x,y,w,h){var t=[x,y,w,h].join(' ');svg.setAttribute('viewBox',t);views[id]=t;}
    if(views[id])svg.setAttribute('viewBox',views[id]);
    function zoom(f,cx,cy){var v=svg.viewBox.baseVal,w=v.width*f,h=v.height*f;
      if(w>home[2]*4||w<home[2]/200)return;set(cx-(cx-v.x)*f,cy-(cy-v.y)*f,w,h);}
    function at(e){var r=svg.getBoundingClientRect(),v=svg.viewBox.baseVal;
      return [v.x+(e.clientX-r.left)/r.width*v.width,v.y+(e.clientY-r.top)/r.height*v.height];}
    svg.addEventListener('wheel',function(e){e.preventDefault();var p=at(e);
      zoom(e.deltaY>0?1.25:0.8,p[0],p[1]);},{passive:false});
    svg.addEventListener('mousedown',function(e){drag=[e.clientX,e.clientY];});
    svg.addEventListener('mousemove',function(e){if(!drag)return;
      var r=svg.getBoundingClientRect(),v=svg.viewBox.baseVal;
      var dx=(e.clientX-drag[0])/r.width*v.width,dy=(e.clientY-drag[1])/r.height*v.height;
      drag=[e.clientX,e.clientY];set(v.x-dx,v.y-dy,v.width,v.height);});
    document.querySelectorAll('button[data-for="'+id+'"]').forEach(function(b){
      b.addEventListener('click',function(){var v=svg.viewBox.baseVal,
        cx=v.x+v.width/2,cy=v.y+v.height/2,a=b.getAttribute('data-act');
        if(a==='in')zoom(0.67,cx,cy);else if(a==='out')zoom(1.5,cx,cy);
        else{delete views[id];svg.setAttribute('viewBox',home.join(' '));}});});
    svg.addEventListener('mouseover',function(e){
      // a bar or mark (data-kind), a graph node or region (data-status): its details
      var t=e.target.closest&&e.target.closest('[data-kind],[data-status]');
      var box=document.getElementById('details');if(!t||!box)return;
      var d=t.dataset,lines=[];for(var k in d){lines.push(k+': '+d[k]);}
      box.textContent=lines.join('   ');});
  }
  function panes(){document.querySelectorAll('svg[data-pane]').forEach(zoomable);}

  if(body.dataset.page==='list'){
    var filters=document.getElementById('filters'),tbody=document.querySelector('#cases tbody');
    var count=document.getElementById('count'),more=document.getElementById('more'),limit=100;
    function refresh(){
      var q=new URLSearchParams();q.set('limit',limit);
      new FormData(filters).forEach(function(v,k){if(v)q.set(k,v);});
      return fetch('/api/cases?'+q.toString()).then(function(r){return r.json();}).then(function(j){
        if(j.error){count.textContent=j.error;return;}
        tbody.innerHTML=j.cases.map(function(c){
          var wf=c.workflow?c.workflow+'@'+c.version:'(term)';
          return '<tr data-case="'+esc(c.case_id)+'" data-state="'+esc(c.state)+'">'
            +'<td><a href="/cases/'+encodeURIComponent(c.case_id)+'">'+esc(c.case_id)
            +'</a></td><td>'+esc(wf)
            +'</td><td class="state '+esc(c.state)+'">'+esc(c.state)+'</td><td>'
            +esc(c.waits.join('; '))+'</td><td>'+c.events+'</td><td>'+esc(age(c.created))
            +'</td></tr>';}).join('');
        var parts=[];for(var s in j.states)parts.push(s+': '+j.states[s]);
        count.textContent=j.total+' cases'+(parts.length?' ('+parts.join(', ')+')':'');
        more.hidden=j.next_offset==null;}).catch(function(){});}
    filters.addEventListener('input',refresh);
    filters.addEventListener('submit',function(e){e.preventDefault();refresh();});
    more.addEventListener('click',function(){limit+=100;refresh();});
    var start=document.getElementById('start-form');
    if(start)start.addEventListener('submit',function(e){e.preventDefault();
      var f=new FormData(start),ctx;
      try{ctx=JSON.parse(f.get('ctx')||'{}');}
      catch(err){say('ctx is not valid JSON',true);return;}
      var data={workflow:f.get('workflow'),ctx:ctx};
      if(f.get('case_id'))data.case_id=f.get('case_id');
      post('/api/cases',data).then(function(r){
        if(r.ok){say('started case '+r.json.case_id);refresh();}else say(r.json.error,true);});});
    refresh();setInterval(refresh,1000);
  }

  if(body.dataset.page==='case'){
    var cid=body.dataset.case;
    function live(){var box=document.getElementById('live');
      if(!box||box.dataset.finished==='true'||drag)return Promise.resolve();
      return fetch('/cases/'+encodeURIComponent(cid)+'/live').then(function(r){
        return r.ok?r.text():null;}).then(function(html){if(!html)return;
        var tmp=document.createElement('div');tmp.innerHTML=html;var fresh=tmp.firstElementChild;
        box.replaceWith(fresh);panes();
        if(fresh.dataset.finished==='true'){var f=document.querySelector('.forms');
          if(f)f.hidden=true;}}).catch(function(){});}
    function act(id,make){var form=document.getElementById(id);if(!form)return;
      form.addEventListener('submit',function(e){e.preventDefault();var data;
        try{data=make(new FormData(form));}catch(err){say(err.message,true);return;}
        if(form.dataset.confirm&&!window.confirm(form.dataset.confirm))return;
        post(form.dataset.api,data).then(function(r){
          if(r.ok)say(id.replace('-form','')+': '+r.json.status);else say(r.json.error,true);
          live();});});}
    act('signal-form',function(f){var p;
      try{p=JSON.parse(f.get('payload')||'null');}
      catch(err){throw new Error('the payload is not valid JSON');}
      return {name:f.get('name'),payload:p};});
    act('cancel-form',function(){return {};});
    act('region-form',function(f){return {region:f.get('region')};});
    panes();setInterval(live,1000);
  }
})();
"""
